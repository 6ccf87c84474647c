"""The build: the check it starts with, the graph of outputs, the scheduler and the build itself."""
