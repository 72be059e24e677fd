// xcheck_daemon.go checks a running gateway's audit log with Go's
// golang.org/x/mod/sumdb/note and sumdb/tlog (a third-party implementation). It reads
// what run_daemon_xcheck.sh fetched from the daemon into DIR: log/ (a static tlog-tiles
// mirror written by `countersign audit export-tiles`), proofs/*.json (GET
// /v1/audit/proof/{i}) and consistency/*.json (GET /v1/audit/consistency with the
// checkpoint seen before, old-*.note).
package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var failures int

func fail(format string, args ...interface{}) {
	failures++
	fmt.Fprintf(os.Stderr, "xcheck_daemon: FAIL "+format+"\n", args...)
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "xcheck_daemon: %s: %v\n", what, err)
		os.Exit(1)
	}
}

func read(p string) []byte {
	b, err := os.ReadFile(p)
	must(err, p)
	return b
}

// c2sp maps Go's tile/8/L/N[.p/W] to the C2SP tlog-tiles tile/L/N[.p/W].
func c2sp(t tlog.Tile) string { return strings.Replace(t.Path(), "tile/8/", "tile/", 1) }

type tree struct {
	n    int64
	root tlog.Hash
}

func openNote(v note.Verifier, msg []byte) tree {
	n, err := note.Open(msg, note.VerifierList(v))
	must(err, "note.Open of the daemon's checkpoint")
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		fail("checkpoint body %q", n.Text)
		return tree{}
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	must(err, "checkpoint size")
	root, err := tlog.ParseHash(lines[2])
	must(err, "checkpoint root")
	return tree{size, root}
}

func entries(logDir string, size int64) [][]byte {
	var out [][]byte
	for n := int64(0); n*256 < size; n++ {
		w := size - n*256
		if w > 256 {
			w = 256
		}
		p := strings.Replace(c2sp(tlog.Tile{H: 8, L: 0, N: n, W: int(w)}), "tile/0/", "tile/entries/", 1)
		b := read(filepath.Join(logDir, p))
		for len(b) >= 2 {
			l := int(binary.BigEndian.Uint16(b))
			if len(b) < 2+l {
				fail("%s: truncated", p)
				break
			}
			out = append(out, b[2:2+l])
			b = b[2+l:]
		}
	}
	if int64(len(out)) != size {
		fail("%d entries, the checkpoint says %d", len(out), size)
	}
	return out
}

// dirTiles serves Go's tile requests from the mirror. Go may ask for a partial tile
// narrower than the one the checkpoint has; as a C2SP client does, it reads the tile of
// the checkpoint's width and keeps the prefix.
type dirTiles struct {
	dir string
	n   int64
}

func (d dirTiles) Height() int { return 8 }
func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	var out [][]byte
	for _, t := range tiles {
		have := t
		if w := (d.n >> (8 * uint(t.L))) - t.N*256; w < 256 {
			have.W = int(w)
		} else {
			have.W = 256
		}
		b, err := os.ReadFile(filepath.Join(d.dir, c2sp(have)))
		if err != nil {
			return nil, err
		}
		if len(b) < t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: short tile", c2sp(have))
		}
		out = append(out, b[:t.W*tlog.HashSize])
	}
	return out, nil
}
func (d dirTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func hashes(list []string) []tlog.Hash {
	var out []tlog.Hash
	for _, s := range list {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			fail("bad proof hash %q", s)
			continue
		}
		var h tlog.Hash
		copy(h[:], b)
		out = append(out, h)
	}
	return out
}

func main() {
	dir := os.Args[1]
	logDir := filepath.Join(dir, "log")
	v, err := note.NewVerifier(strings.TrimSpace(string(read(filepath.Join(logDir, "key")))))
	must(err, "note.NewVerifier of GET /v1/audit/key")
	cp := openNote(v, read(filepath.Join(logDir, "checkpoint")))
	ents := entries(logDir, cp.n)

	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, e := range ents {
		hs, err := tlog.StoredHashes(int64(i), e, reader)
		must(err, "StoredHashes")
		stored = append(stored, hs...)
	}
	if root, _ := tlog.TreeHash(cp.n, reader); root != cp.root {
		fail("Go's root of the %d entries differs from the daemon's checkpoint", cp.n)
	}
	published := 0
	for _, t := range tlog.NewTiles(8, 0, cp.n) {
		// NewTiles lists every partial width on the way; the mirror has the final ones.
		if _, err := os.Stat(filepath.Join(logDir, c2sp(t))); err != nil && t.W < 256 {
			continue
		}
		published++
		want, err := tlog.ReadTileData(t, reader)
		must(err, "ReadTileData")
		if got := read(filepath.Join(logDir, c2sp(t))); string(got) != string(want) {
			fail("%s differs from Go's tile", c2sp(t))
		}
	}
	thr := tlog.TileHashReader(tlog.Tree{N: cp.n, Hash: cp.root}, dirTiles{logDir, cp.n})
	if h, err := tlog.TreeHash(cp.n, thr); err != nil || h != cp.root {
		fail("TileHashReader over the served tiles: %v", err)
	}

	proofs, _ := filepath.Glob(filepath.Join(dir, "proofs", "*.json"))
	for _, p := range proofs {
		var pr struct {
			Index      int64    `json:"index"`
			TreeSize   int64    `json:"tree_size"`
			Hashes     []string `json:"hashes"`
			Entry      string   `json:"entry"`
			Checkpoint string   `json:"checkpoint"`
		}
		must(json.Unmarshal(read(p), &pr), p)
		t := openNote(v, []byte(pr.Checkpoint))
		leaf := tlog.RecordHash([]byte(pr.Entry))
		if err := tlog.CheckRecord(tlog.RecordProof(hashes(pr.Hashes)), t.n, t.root, pr.Index, leaf); err != nil {
			fail("%s: CheckRecord: %v", p, err)
		}
		if t.n == cp.n {
			gp, err := tlog.ProveRecord(t.n, pr.Index, reader)
			must(err, "ProveRecord")
			if fmt.Sprint(gp) != fmt.Sprint(tlog.RecordProof(hashes(pr.Hashes))) {
				fail("%s: the inclusion proof differs from Go's", p)
			}
		}
	}
	olds, _ := filepath.Glob(filepath.Join(dir, "consistency", "*.json"))
	for _, p := range olds {
		var cr struct {
			From, To   int64
			Hashes     []string `json:"hashes"`
			Checkpoint string   `json:"checkpoint"`
		}
		must(json.Unmarshal(read(p), &cr), p)
		old := openNote(v, read(strings.TrimSuffix(p, ".json")+".note"))
		now := openNote(v, []byte(cr.Checkpoint))
		if old.n != cr.From || now.n != cr.To {
			fail("%s: sizes %d..%d, notes %d..%d", p, cr.From, cr.To, old.n, now.n)
		}
		if err := tlog.CheckTree(tlog.TreeProof(hashes(cr.Hashes)), now.n, now.root, old.n, old.root); err != nil {
			fail("%s: CheckTree: %v", p, err)
		}
		if now.n == cp.n {
			gp, err := tlog.ProveTree(now.n, old.n, reader)
			must(err, "ProveTree")
			if fmt.Sprint(gp) != fmt.Sprint(tlog.TreeProof(hashes(cr.Hashes))) {
				fail("%s: the consistency proof differs from Go's", p)
			}
		}
	}
	if failures > 0 {
		os.Exit(1)
	}
	fmt.Printf("xcheck_daemon: OK: checkpoint of %d entries, %d tiles, %d inclusion and %d consistency proofs agree with Go's sumdb/tlog and sumdb/note\n",
		cp.n, published, len(proofs), len(olds))
}
