"""Callbacks of a GAN run: recording (`record`), live feedback (`progress`), guards (`guards`),
checkpoints and resume (`checkpoint`)."""
