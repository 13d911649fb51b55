"""Callbacks of a GAN run: recording (`record`), guards (`guards`), checkpoints and resume (`checkpoint`)."""
