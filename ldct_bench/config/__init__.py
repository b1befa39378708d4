"""What a run is configured by: typed schemas, and checking and composing command lines."""
