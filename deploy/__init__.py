"""Release tooling for Elastic Beanstalk: bundle, upload, release, wait, roll back, prune."""
