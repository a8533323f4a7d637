"""Everything that talks to a broker: the interface, the OpenAlgo clients and the simulated broker."""
