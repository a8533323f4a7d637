"""An OpenAlgo-compatible server on 127.0.0.1 for the demo, the tests and brokerless machines."""
