"""The pykka actors of the trading graph, the clocks and the supervisor."""
