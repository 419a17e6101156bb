"""The pure core: recording format, protocol model, session state machine, replay schedule.

Nothing in this package imports trio, opens a socket or reads the clock; time comes in as
arguments.  A test enforces that.
"""
