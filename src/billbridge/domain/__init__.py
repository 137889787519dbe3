"""The billing model and the rules that turn it into Autotask records.

Pure: nothing here reads files, the clock, the network or the settings. Callers pass in
everything a rule needs, so every rule can be tested with plain values.
"""
