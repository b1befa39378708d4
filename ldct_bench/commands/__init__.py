"""Admin subcommands of `ldct-bench`; each module exposes `add_parser(subparsers)`."""
