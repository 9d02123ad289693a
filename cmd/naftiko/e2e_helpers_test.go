package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// naftikoBin is the binary built once for end-to-end tests, which exercise
// naftiko exactly as users do: as a process with flags, files and ports.
var naftikoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "naftiko-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	naftikoBin = filepath.Join(dir, "naftiko")
	args := []string{"build", "-o", naftikoBin}
	if raceBuild {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build naftiko:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoDir is the project root.
func repoDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
