from ragd.daemon.cli import main

main()
