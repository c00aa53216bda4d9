"""Fan-out over Redis Streams: collectors publish events once, however many publish them; readers
in consumer groups get each one, acknowledged after delivery, with every loss announced."""
