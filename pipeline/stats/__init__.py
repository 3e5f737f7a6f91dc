"""Trial statistics: the endpoints of the configuration's ``analyses`` section, their methods and figures."""
