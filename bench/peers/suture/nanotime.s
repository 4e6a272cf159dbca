// Empty: its presence lets main.go declare nanotime without a body
// (go:linkname to runtime.nanotime).
