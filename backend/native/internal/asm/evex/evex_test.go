package evex

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAgainstDisassembler: GNU objdump, an independent decoder, reads
// every form the generators use (registers high and low, broadcast and
// full-vector memory operands, 8-bit compressed and 32-bit displacements,
// the bases that need a SIB byte or a displacement) back as the
// instruction this package says it encoded.
func TestAgainstDisassembler(t *testing.T) {
	objdump, err := exec.LookPath("objdump")
	if err != nil {
		t.Skip("SKIP: no objdump (GNU binutils) to check the encodings against")
	}
	type enc struct {
		code  []byte
		intel string
	}
	var cases []enc
	for _, op := range []Op{VDPBF16PS, VCVTNE2PS2BF16, VPDPBUSD} {
		for _, r := range [][3]Z{{0, 28, 3}, {17, 5, 30}, {8, 16, 24}, {31, 31, 31}} {
			cases = append(cases, enc{RR(op, r[0], r[1], r[2]), IntelRR(op, r[0], r[1], r[2])})
		}
		for _, m := range []Mem{
			{Base: SI}, {Base: SI, Disp: 8, Bcst: true}, {Base: DI, Disp: 64}, {Base: DI, Disp: 1000},
			{Base: R12, Disp: 640}, {Base: SP, Disp: 4, Bcst: true}, {Base: BP}, {Base: R13, Disp: -4, Bcst: true},
			{Base: R9, Disp: 8192}, {Base: AX, Disp: 508, Bcst: true}, {Base: R15, Disp: -8192},
		} {
			for _, r := range [][2]Z{{1, 2}, {23, 25}, {9, 31}} {
				cases = append(cases, enc{RM(op, r[0], r[1], m), IntelRM(op, r[0], r[1], m)})
			}
		}
	}
	for _, r := range [][2]Z{{0, 0}, {15, 3}, {7, 31}, {31, 16}} {
		cases = append(cases, enc{R2(VCVTNEPS2BF16, r[0], r[1]), IntelR2(VCVTNEPS2BF16, r[0], r[1])})
	}
	var all []byte
	for _, c := range cases {
		all = append(all, c.code...)
	}
	bin := filepath.Join(t.TempDir(), "code.bin")
	if err := os.WriteFile(bin, all, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(objdump, "-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("objdump: %v\n%s", err, out)
	}
	// Lines like "   0:	62 f2 1e 40 52 c3    	vdpbf16ps zmm0,zmm28,zmm3".
	var got []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.SplitN(line, "\t", 3)
		if len(f) == 3 && strings.HasSuffix(strings.TrimSpace(f[0]), ":") {
			got = append(got, strings.Join(strings.Fields(f[2]), " "))
		}
	}
	if len(got) != len(cases) {
		t.Fatalf("objdump read %d instructions from %d encodings:\n%s", len(got), len(cases), out)
	}
	for i, c := range cases {
		if got[i] != c.intel {
			t.Errorf("% x: objdump reads %q, want %q", c.code, got[i], c.intel)
		}
	}
}
