import ForgerCLI
Forger.main()
