"""The run: its folder (layout, claim, locks), exact resume, the step log, the checkpoint a user names, W&B
beside it, and the machine it runs on. Nothing here knows the GAN module; the module and the CLI use it."""
