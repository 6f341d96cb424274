"""``python -m gain_mtl ...`` runs the CLI (``torchrun -m gain_mtl train ...`` uses this)."""

from gain_mtl.cli import main

if __name__ == "__main__":
    main()
