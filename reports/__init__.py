"""The Allure layer of a qualification run (DESIGN.md, "Reports (Allure)").

``categories`` the seeds' failure classes · ``allure_files`` environment/executor/categories files ·
``attachments`` scrubbed attachments · ``sweep`` the final in-place scrub · ``summary_html`` the
one-page report · ``allure_cli`` the optional CLI · ``plugin`` the pytest wiring · ``scrub`` the scrubber.
"""
