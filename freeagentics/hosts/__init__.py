"""Where simulations run: this process, other processes, a Ray cluster (see DESIGN.md)."""
