// Package sysinfo reads what the machine has left: available memory and
// free disk space, so that resgo can refuse work that cannot fit before
// it starts instead of failing (or being killed) in the middle.
package sysinfo
