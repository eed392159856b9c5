"""LinkedIn: the Conversions API destination and its Rest.li sandbox.

Modules are imported on first use only (the registry names them as import strings), so
nothing here loads until LinkedIn is configured.
"""
