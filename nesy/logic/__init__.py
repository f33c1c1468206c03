"""The rule language (parser, checker, compiler to fuzzy logic); built in a later issue."""
