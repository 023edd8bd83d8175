// Command e2eproducer enqueues --count e2e.work tasks with IDs t-000000,
// t-000001, … at about --rate tasks a second, retrying every task that was
// not stored (same ID, so never twice), and appends each stored ID to --out.
package main
