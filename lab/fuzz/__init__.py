"""Coverage-guided fuzzing of native cores (atheris + libFuzzer + sanitizers)."""
