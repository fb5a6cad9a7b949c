"""The ``nipype-carbon`` command: one small module per subcommand, each with ``main(argv)``."""
