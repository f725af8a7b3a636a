# The example environment module greenlight applies when an environment is provisioned and
# destroys when it is decommissioned: the environment's network and shared resources. Built-in
# resources only (terraform_data), so no provider is downloaded. Works with OpenTofu and Terraform.
#
# greenlight passes `environment` (its name) and `tags` ({ greenlight-environment = <name> }); a
# real module puts `tags` on every resource it creates, so everything of an environment can be
# found, and torn down, at once. Every output must have a value after apply.

terraform {
  required_version = ">= 1.5"
}

variable "environment" {
  type = string
}

variable "tags" {
  type = map(string)
}

locals {
  # A stable private /24 per environment.
  cidr = "10.${parseint(substr(sha256(var.environment), 0, 2), 16)}.${parseint(substr(sha256(var.environment), 2, 2), 16)}.0/24"
}

resource "terraform_data" "network" {
  input = {
    name = "${var.environment}-network"
    cidr = local.cidr
    tags = var.tags
  }
}

resource "terraform_data" "shared" {
  input = {
    name    = "${var.environment}-shared"
    network = terraform_data.network.output.name
    tags    = var.tags
  }
}

output "network" {
  value = terraform_data.network.output.name
}

output "cidr" {
  value = local.cidr
}

output "shared" {
  value = terraform_data.shared.output.name
}
