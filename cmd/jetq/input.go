package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// input is standard input, and whether a person types into it.
type input struct {
	r        io.Reader
	terminal bool
}

// stdinOf is f as input: a character device is a terminal.
func stdinOf(f *os.File) input {
	st, err := f.Stat()
	return input{r: f, terminal: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

// confirm asks question on stderr and reads a yes or no from a terminal on
// stdin. Without a terminal it refuses, naming the flag that confirms
// instead: a script must say so, not answer a prompt it cannot see.
func (g *globals) confirm(question, flag string) error {
	if !g.stdin.terminal || g.stdin.r == nil {
		return usagef("%s: standard input is not a terminal to ask on; add %s to confirm", question, flag)
	}
	fmt.Fprintf(g.stderr, "%s [y/N] ", question)
	line, err := bufio.NewReader(g.stdin.r).ReadString('\n')
	// An answer typed without a newline before EOF (Ctrl-D) still counts;
	// no answer at all is a refusal, never a yes.
	if err != nil && line == "" {
		return fmt.Errorf("%s: no answer (%v); nothing done", question, err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("%s: not confirmed; nothing done", question)
}
