"""Entry point: ``python main.py fit --config configs/quickstart.yaml`` (see README.md)."""

from gan_module.cli import main

if __name__ == "__main__":
    main()
