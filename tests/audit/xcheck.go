// xcheck.go checks countersign's audit log output with Go's golang.org/x/mod/sumdb/note
// and sumdb/tlog, a third-party implementation of signed notes and tiled Merkle logs.
// It reads the directory written by `audit_xcheck gen DIR` and writes two notes signed
// by Go into the same directory for `audit_xcheck check DIR`. It writes nowhere else.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var dir string
var failures int

func fail(format string, args ...interface{}) {
	failures++
	fmt.Fprintf(os.Stderr, "xcheck: FAIL "+format+"\n", args...)
	if failures > 20 {
		os.Exit(1)
	}
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "xcheck: %s: %v\n", what, err)
		os.Exit(1)
	}
}

func read(p string) []byte {
	b, err := os.ReadFile(filepath.Join(dir, p))
	must(err, p)
	return b
}

// tilePath maps Go's tile/8/L/N[.p/W] to the C2SP tlog-tiles tile/L/N[.p/W].
func tilePath(t tlog.Tile) string {
	return strings.Replace(t.Path(), "tile/8/", "tile/", 1)
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// openCheckpoint verifies the signed note and parses the C2SP tlog-checkpoint body.
func openCheckpoint(v note.Verifier, msg []byte) checkpoint {
	n, err := note.Open(msg, note.VerifierList(v))
	must(err, "note.Open of our checkpoint")
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		fail("checkpoint body %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	must(err, "checkpoint size")
	root, err := tlog.ParseHash(lines[2])
	must(err, "checkpoint root")
	return checkpoint{lines[0], size, root}
}

// readEntries reads every entry bundle of an exported log.
func readEntries(logDir string, size int64) [][]byte {
	var out [][]byte
	for n := int64(0); n*256 < size; n++ {
		w := size - n*256
		if w > 256 {
			w = 256
		}
		t := tlog.Tile{H: 8, L: 0, N: n, W: int(w)}
		p := strings.Replace(tilePath(t), "tile/0/", "tile/entries/", 1)
		b := read(filepath.Join(logDir, p))
		for len(b) > 0 {
			if len(b) < 2 {
				fail("%s: truncated bundle", p)
				return out
			}
			l := int(binary.BigEndian.Uint16(b))
			if len(b) < 2+l {
				fail("%s: truncated entry", p)
				return out
			}
			out = append(out, b[2:2+l])
			b = b[2+l:]
		}
	}
	if int64(len(out)) != size {
		fail("%s: %d entries, checkpoint says %d", logDir, len(out), size)
	}
	return out
}

type dirTiles struct{ logDir string }

func (d dirTiles) Height() int { return 8 }
func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	var out [][]byte
	for _, t := range tiles {
		b, err := os.ReadFile(filepath.Join(dir, d.logDir, tilePath(t)))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
func (d dirTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func decodeProof(s string) []tlog.Hash {
	var out []tlog.Hash
	if s == "" {
		return out
	}
	for _, f := range strings.Split(s, ",") {
		h, err := tlog.ParseHash(f)
		must(err, "proof hash")
		out = append(out, h)
	}
	return out
}

func main() {
	dir = os.Args[1]
	vkey := strings.TrimSpace(string(read("vkey")))
	v, err := note.NewVerifier(vkey)
	must(err, "note.NewVerifier of our vkey")

	// Independent hash storage, built by Go from the entries of the largest log.
	logs, _ := filepath.Glob(filepath.Join(dir, "log-*"))
	var sizes []int64
	for _, l := range logs {
		n, _ := strconv.ParseInt(strings.TrimPrefix(filepath.Base(l), "log-"), 10, 64)
		sizes = append(sizes, n)
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	max := sizes[len(sizes)-1]
	cps := map[int64]checkpoint{}
	for _, n := range sizes {
		cps[n] = openCheckpoint(v, read(fmt.Sprintf("log-%d/checkpoint", n)))
	}
	entries := readEntries(fmt.Sprintf("log-%d", max), max)
	var storage []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = storage[x]
		}
		return out, nil
	})
	for i, e := range entries {
		hs, err := tlog.StoredHashes(int64(i), e, reader)
		must(err, "StoredHashes")
		storage = append(storage, hs...)
	}

	tiles := 0
	for _, n := range sizes {
		cp := cps[n]
		logDir := fmt.Sprintf("log-%d", n)
		if cp.origin != v.Name() || cp.size != n {
			fail("%s: checkpoint origin %q size %d", logDir, cp.origin, cp.size)
		}
		// The root Go computes from the entries is the signed one.
		root, err := tlog.TreeHash(n, reader)
		must(err, "TreeHash")
		if root != cp.root {
			fail("%s: root %v, Go computes %v", logDir, cp.root, root)
		}
		// Every tile Go expects for this size exists with Go's bytes, and nothing else.
		want := map[string]bool{}
		for _, t := range tlog.NewTiles(8, 0, n) {
			// NewTiles also lists the intermediate partial tiles of a growing log; a
			// tree of size n has only the full ones and the last partial one per level.
			if t.W != 256 && t.N<<8+int64(t.W) != n>>(8*t.L) {
				continue
			}
			data, err := tlog.ReadTileData(t, reader)
			must(err, "ReadTileData")
			got, err := os.ReadFile(filepath.Join(dir, logDir, tilePath(t)))
			if err != nil || !bytes.Equal(got, data) {
				fail("%s: tile %s differs from Go's (%v)", logDir, tilePath(t), err)
			}
			want[tilePath(t)] = true
			tiles++
		}
		filepath.Walk(filepath.Join(dir, logDir, "tile"), func(p string, info os.FileInfo, err error) error {
			rel, _ := filepath.Rel(filepath.Join(dir, logDir), p)
			if err == nil && !info.IsDir() && !strings.HasPrefix(rel, "tile/entries/") && !want[rel] {
				fail("%s: unexpected tile %s", logDir, rel)
			}
			return nil
		})
		// Go's authenticating tile reader accepts our tiles for the signed tree.
		thr := tlog.TileHashReader(tlog.Tree{N: n, Hash: cp.root}, dirTiles{logDir})
		if h, err := tlog.TreeHash(n, thr); err != nil || h != cp.root {
			fail("%s: TileHashReader: %v", logDir, err)
		}
	}

	// Our proofs, checked and compared with Go's own.
	f, err := os.Open(filepath.Join(dir, "proofs.txt"))
	must(err, "proofs.txt")
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	incl, cons, rejected := 0, 0, 0
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		a, _ := strconv.ParseInt(fs[1], 10, 64)
		b, _ := strconv.ParseInt(fs[2], 10, 64)
		p := ""
		if len(fs) > 3 {
			p = fs[3]
		}
		proof := decodeProof(p)
		switch fs[0] {
		case "incl":
			n, i := a, b
			leaf := tlog.RecordHash(entries[i])
			if err := tlog.CheckRecord(tlog.RecordProof(proof), n, cps[n].root, i, leaf); err != nil {
				fail("inclusion %d in %d: %v", i, n, err)
			}
			goProof, err := tlog.ProveRecord(n, i, reader)
			must(err, "ProveRecord")
			if fmt.Sprint(goProof) != fmt.Sprint(tlog.RecordProof(proof)) {
				fail("inclusion %d in %d: proof differs from Go's", i, n)
			}
			if len(proof) > 0 {
				proof[len(proof)/2][7] ^= 1
				if tlog.CheckRecord(tlog.RecordProof(proof), n, cps[n].root, i, leaf) == nil {
					fail("tampered inclusion proof accepted")
				}
				rejected++
			}
			incl++
		case "cons":
			n1, n2 := a, b
			if err := tlog.CheckTree(tlog.TreeProof(proof), n2, cps[n2].root, n1, cps[n1].root); err != nil {
				fail("consistency %d -> %d: %v", n1, n2, err)
			}
			goProof, err := tlog.ProveTree(n2, n1, reader)
			must(err, "ProveTree")
			if fmt.Sprint(goProof) != fmt.Sprint(tlog.TreeProof(proof)) {
				fail("consistency %d -> %d: proof differs from Go's", n1, n2)
			}
			if len(proof) > 0 {
				proof[0][0] ^= 1
				if tlog.CheckTree(tlog.TreeProof(proof), n2, cps[n2].root, n1, cps[n1].root) == nil {
					fail("tampered consistency proof accepted")
				}
				rejected++
			}
			cons++
		}
	}
	must(sc.Err(), "proofs.txt")

	// Go signs with our private key text, and with a key of its own, for the C side.
	signer, err := note.NewSigner(strings.TrimSpace(string(read("skey"))))
	must(err, "note.NewSigner of our private key")
	if signer.KeyHash() != v.KeyHash() || signer.Name() != v.Name() {
		fail("our private key and verifier key disagree in Go")
	}
	msg, err := note.Sign(&note.Note{Text: "signed by Go with our private key\n"}, signer)
	must(err, "note.Sign")
	must(os.WriteFile(filepath.Join(dir, "go-signed-with-our-key.note"), msg, 0o644), "write")
	gskey, gvkey, err := note.GenerateKey(rand.Reader, "go.example/log")
	must(err, "GenerateKey")
	gs, err := note.NewSigner(gskey)
	must(err, "NewSigner")
	root := base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31})
	msg, err = note.Sign(&note.Note{Text: "go.example/log\n3\n" + root + "\n"}, gs)
	must(err, "note.Sign")
	must(os.WriteFile(filepath.Join(dir, "go-signed-with-go-key.note"), msg, 0o644), "write")
	must(os.WriteFile(filepath.Join(dir, "go-vkey"), []byte(gvkey+"\n"), 0o644), "write")

	if failures > 0 {
		fmt.Fprintf(os.Stderr, "xcheck: %d failures\n", failures)
		os.Exit(1)
	}
	fmt.Printf("xcheck: Go agrees: %d checkpoints, %d tiles, %d inclusion and %d consistency proofs (%d tampered ones rejected)\n",
		len(sizes), tiles, incl, cons, rejected)
}
