"""What visitors see: the landing page, the entry form, receipts, winners, media, language."""
