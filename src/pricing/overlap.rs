//! Overlapping price rules: pairs of rules of one stage that compete (two `set`s, two percentages, two floors or two ceilings) and can fire together in a valid configuration.
