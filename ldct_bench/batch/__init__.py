"""batch=true: the same requests through a vendor's batch API, at its batch price, resumable across days.

A batch is only another way to send: the requests are the chat requests, the answers are read by the same rule
and land in the same journal, cache and results. lines (input files within the vendor's limits) -> ledger
(the run dir's record of batches in flight) -> vendor (upload, create, poll, read) -> stage (the flow).
"""
