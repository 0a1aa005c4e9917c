"""The consumer: stream → decode → bulk index → acknowledge."""
