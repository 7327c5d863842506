"""The timed work: what falls due with time (a cooling-off that ends, a task or a safeguarding
concern left too long) and the delivery of events, run by the timed-work runner."""
