from billbridge.cli import main

main()
