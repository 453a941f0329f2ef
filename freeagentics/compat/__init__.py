"""Drop-in interfaces for code written against other Active Inference libraries."""
