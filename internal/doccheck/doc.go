// Package doccheck holds a test that keeps the module's documentation
// complete: every package has a doc.go with a package comment, and every
// exported name has a doc comment.
package doccheck
