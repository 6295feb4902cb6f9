"""Where specs run: the engines, each started once per run, probed and shared by workers."""
