// Package config finds skynomad's home directory ($SKYNOMAD_HOME or
// ~/.skynomad), reads <home>/config.yaml, applies the environment overrides
// and fills every default in one place. Unknown keys and wrong types are
// errors that name the file, line and column. docs/configuration.md
// documents every key.
package config
