"""A minimal list-file scenario for the tests: text files holding a label and a short float vector."""
