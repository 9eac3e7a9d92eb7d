// Package ui is the only way skynomad's commands talk to a person: lines,
// tables, steps (a spinner on a terminal, plain lines otherwise), a yes/no
// question, and errors: input errors first name the place, as editors read
// it ("task.yaml:4:13: resources.use_spot: ..."), then what would be
// accepted on indented lines.
//
// Two implementations share the UI interface: an interactive one for a
// terminal (colour, animated steps) and a plain one for pipes, files and CI.
// Lower layers never print; they return values and errors that a command
// hands to a UI.
package ui
