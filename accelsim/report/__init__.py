"""Reports: terminal tables now; plots and paper tables come with the DSE issue."""
