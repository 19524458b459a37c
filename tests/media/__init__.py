"""Tests of the photo media pipeline (contest.media), without Flask."""
