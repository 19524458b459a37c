"""The judge's pages: the queue, the entry screen with its score form, recusal, zoom."""
