import ForgerCLI

Forger.run()
