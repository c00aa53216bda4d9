"""What Kraken's v1 and v2 protocols share: the book checksum, the venue's limits (book depths,
candle intervals, request pace), the system states, and the instruments both simulators list.

Production code imports ``checksum``, ``limits`` and ``status``; ``instruments`` is for simulators.
"""
