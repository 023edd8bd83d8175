// Package readme keeps the README honest: its tests compile the Go snippets
// of the repository's README.md, so a snippet that stops compiling fails CI.
package readme
