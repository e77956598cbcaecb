from digitlab.cli import main

main()
