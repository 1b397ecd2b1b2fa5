"""Elastic Beanstalk's option namespaces, each spelled here once for the release tool, the local Elastic
Beanstalk, the tests and the benchmarks (sources: EB developer guide, "General options for all environments"
and "Platform specific options").

Each is named for what it holds. `aws:elasticbeanstalk:application:environment` (the app's variables) and
`aws:elasticbeanstalk:environment` (the environment's type, load balancer and service role) are easy to mix
up, so neither is called plain ENVIRONMENT.
"""

# The app's environment variables (environment properties), and those EB fetches from SSM or Secrets Manager.
APPLICATION_ENVIRONMENT = "aws:elasticbeanstalk:application:environment"
ENVIRONMENT_SECRETS = "aws:elasticbeanstalk:application:environmentsecrets"
# The environment itself: EnvironmentType, LoadBalancerType, ServiceRole.
ENVIRONMENT_SETTINGS = "aws:elasticbeanstalk:environment"
# The default process: the load balancer's target group and health check.
DEFAULT_PROCESS = "aws:elasticbeanstalk:environment:process:default"
PROXY = "aws:elasticbeanstalk:environment:proxy"
STATIC_FILES = "aws:elasticbeanstalk:environment:proxy:staticfiles"
PYTHON_CONTAINER = "aws:elasticbeanstalk:container:python"
# How a deployment rolls: DeploymentPolicy, BatchSizeType, BatchSize, Timeout (EB calls the namespace "command").
DEPLOYMENT_POLICY = "aws:elasticbeanstalk:command"
TRAFFIC_SPLITTING = "aws:elasticbeanstalk:trafficsplitting"
HEALTH_REPORTING = "aws:elasticbeanstalk:healthreporting:system"
LOG_STREAMING = "aws:elasticbeanstalk:cloudwatch:logs"
HEALTH_LOG_STREAMING = "aws:elasticbeanstalk:cloudwatch:logs:health"
AUTOSCALING_GROUP = "aws:autoscaling:asg"
LAUNCH_CONFIGURATION = "aws:autoscaling:launchconfiguration"
ROLLING_UPDATE = "aws:autoscaling:updatepolicy:rollingupdate"
LOAD_BALANCER = "aws:elbv2:loadbalancer"
# A database created with the environment (what `eb create --database` sends).
RDS_DATABASE = "aws:rds:dbinstance"
